// `node --import ./register.mjs ...`: resolve the booth's bare `@noble/...` imports from tools/node_modules, as the
// browser does through booth.html's import map.
import { register } from 'node:module';

register(new URL('./hooks.mjs', import.meta.url));
