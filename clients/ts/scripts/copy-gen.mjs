// Copies the generated code (../../gen/ts, protoc-gen-es) into src/gen so
// that tsc compiles it into dist/gen and `npm pack` ships it inside the
// package. gen/ts is the source of truth; src/gen is build output (ignored by
// git) and is replaced on every build.
import { cpSync, existsSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const from = fileURLToPath(new URL("../../../gen/ts", import.meta.url));
const to = fileURLToPath(new URL("../src/gen", import.meta.url));

if (!existsSync(from)) {
  console.error(`copy-gen: ${from} does not exist; run the code generator first (buf generate).`);
  process.exit(1);
}
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true, filter: (src) => !src.endsWith(".js") && !src.endsWith(".d.ts") });
console.log(`copy-gen: ${from} -> ${to}`);
