/**
 * Fastify's schema compilers, building each route's request validator (Ajv) and response
 * serializer (fast-json-stringify) the first time the route runs rather than at ready(): building
 * them all took ~0.5 s of every start, most of it for routes a test never calls. The compilers
 * are Fastify's own defaults, loaded (from Fastify's place, as it loads them) on first use too.
 */
import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type Compilers = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type ValidatorFactory = NonNullable<Compilers['buildValidator']>;
type SerializerFactory = NonNullable<Compilers['buildSerializer']>;
type Validate = ReturnType<ReturnType<ValidatorFactory>>;
type Serialize = ReturnType<ReturnType<SerializerFactory>>;

const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));

/** For Fastify's `schemaController.compilersFactory`. */
export const lazyCompilers: Compilers = {
  buildValidator: (...factoryArgs) => {
    let compile: ReturnType<ValidatorFactory> | undefined;
    return (route) =>
      lazyValidator(() => {
        compile ??= (fromFastify('@fastify/ajv-compiler') as () => ValidatorFactory)()(...factoryArgs);
        return compile(route);
      });
  },
  buildSerializer: (...factoryArgs) => {
    let compile: ReturnType<SerializerFactory> | undefined;
    return (route) => {
      let serialize: Serialize | undefined;
      return (data) => {
        compile ??= (fromFastify('@fastify/fast-json-stringify-compiler') as () => SerializerFactory)()(...factoryArgs);
        serialize ??= compile(route);
        return serialize(data);
      };
    };
  },
};

/**
 * A validator that compiles on its first call. Fastify also reads two properties of it, handed on
 * from Ajv's function: `schemaEnv` (present, Fastify passes the parent so that Ajv can coerce a
 * root value) and, after a failed call, `errors`.
 */
function lazyValidator(compile: () => Validate): Validate {
  let compiled: Validate | undefined;
  const validator = () => (compiled ??= compile());
  const validate = (...args: Parameters<Validate>) => validator()(...args);
  return Object.defineProperties(validate, {
    schemaEnv: { get: () => validator().schemaEnv },
    errors: { get: () => validator().errors },
  }) as unknown as Validate;
}
