// Removes build output: dist/ and the copy of the generated code in src/gen/.
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

for (const dir of ["../dist", "../src/gen"]) {
  rmSync(fileURLToPath(new URL(dir, import.meta.url)), { recursive: true, force: true });
}
