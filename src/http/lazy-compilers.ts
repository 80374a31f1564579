/**
 * Fastify's schema compilers, building each route's request validator (Ajv) and response
 * serializer (fast-json-stringify) the first time the route runs rather than at ready(): building
 * them all took ~0.5 s of every start, most of it for routes a test never calls. The compilers
 * are Fastify's own defaults, loaded (from Fastify's place, as it loads them) on first use too.
 * What they build is kept for every server of the process (a test suite starts one per test).
 */
import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type Compilers = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type ValidatorFactory = NonNullable<Compilers['buildValidator']>;
type SerializerFactory = NonNullable<Compilers['buildSerializer']>;
type Validate = ReturnType<ReturnType<ValidatorFactory>>;
type Serialize = ReturnType<ReturnType<SerializerFactory>>;

/** Fastify's defaults, required from its place as it requires them itself (so, the versions it chose). */
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
const defaultValidators: ValidatorFactory = (...args) =>
  (fromFastify('@fastify/ajv-compiler') as () => ValidatorFactory)()(...args);
const defaultSerializers: SerializerFactory = (...args) =>
  (fromFastify('@fastify/fast-json-stringify-compiler') as () => SerializerFactory)()(...args);

/** For Fastify's `schemaController.compilersFactory`. */
export const lazyCompilers: Compilers = {
  buildValidator: (...factoryArgs) => {
    const built = builtFor(validators, factoryArgs);
    let compile: ReturnType<ValidatorFactory> | undefined;
    return (route) =>
      lazyValidator(() =>
        cached(built, route.schema, () => {
          compile ??= defaultValidators(...factoryArgs);
          return compile(route);
        }),
      );
  },
  buildSerializer: (...factoryArgs) => {
    const built = builtFor(serializers, factoryArgs);
    let compile: ReturnType<SerializerFactory> | undefined;
    return (route) => {
      let serialize: Serialize | undefined;
      return (data) => {
        serialize ??= cached(built, route.schema, () => {
          compile ??= defaultSerializers(...factoryArgs);
          return compile(route);
        });
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

/**
 * What was built, by schema, for each set of compiler options (the shared schemas and the Ajv or
 * serializer options, as Fastify's Ajv pool keys them). Weak: a schema made per server goes with it.
 */
type Built<T> = Map<string, WeakMap<object, T>>;
const validators: Built<Validate> = new Map();
const serializers: Built<Serialize> = new Map();

function builtFor<T>(built: Built<T>, factoryArgs: unknown[]): WeakMap<object, T> {
  const key = JSON.stringify(factoryArgs);
  let forOptions = built.get(key);
  if (forOptions === undefined) built.set(key, (forOptions = new WeakMap()));
  return forOptions;
}

function cached<T>(built: WeakMap<object, T>, schema: unknown, build: () => T): T {
  // A boolean schema (true, false) cannot be a key; it is cheap to build.
  if (typeof schema !== 'object' || schema === null) return build();
  let value = built.get(schema);
  if (value === undefined) built.set(schema, (value = build()));
  return value;
}
