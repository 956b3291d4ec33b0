// Minimal typing for the `bindings` loader (it has no types of its own).
declare module 'bindings' {
  function bindings(name: string): unknown;
  export = bindings;
}
