// Prints, then writes ../finished after 1.5s unless it is killed first.
import { writeFileSync } from 'node:fs';

console.log('fixture started');
setTimeout(() => writeFileSync(new URL('../finished', import.meta.url), 'done\n'), 1500);
