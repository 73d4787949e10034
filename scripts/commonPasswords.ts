// Writes src/passwords/common-passwords.txt at install (npm's postinstall): the zxcvbn-ts
// common-password list, lower-cased, without repeats, sorted by UTF-16 unit as `sort()` orders, one
// per line. The package ships it front-coded; unpacking it at run time made ~10 MB of short-lived
// strings in every serving process. `npm run build` copies the file beside the built code.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const list = createRequire(import.meta.url)('@zxcvbn-ts/language-common/dist/passwords.json.cjs') as unknown[];
const words = [...new Set(list.map((word) => String(word).toLowerCase()))].sort();
fs.writeFileSync(new URL('../src/passwords/common-passwords.txt', import.meta.url), `${words.join('\n')}\n`);
