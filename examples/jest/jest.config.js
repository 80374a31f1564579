// Native ES modules: no Babel transform. Run Jest with NODE_OPTIONS=--experimental-vm-modules.
export default {
  testEnvironment: 'node',
  transform: {},
};
