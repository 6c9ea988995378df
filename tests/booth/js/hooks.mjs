// ESM resolve hook: `@noble/<pkg>/<file>` -> tools/node_modules/@noble/<pkg>/<file> of this repository.
const TOOLS = new URL('../../../tools/node_modules/', import.meta.url);

export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@noble/')) return next(new URL(specifier, TOOLS).href, context);
  return next(specifier, context);
}
