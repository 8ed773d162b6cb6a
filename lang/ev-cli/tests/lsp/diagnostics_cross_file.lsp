# Editing an imported file (unsaved) re-checks the files that use it: an
# export renamed away breaks the importer, restoring it fixes it.
### file everything.ev
import { port } from "lib.ev"
let url = "http://example.test:${port}"
### file lib.ev
export let port = 8080
### open everything.ev
### open lib.ev
### diagnostics
### change lib.ev 1:12-1:16
portt
### diagnostics
### change lib.ev 1:12-1:17
port
### diagnostics
