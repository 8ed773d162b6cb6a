# Go to definition of an import path opens the file; of an imported name,
# its definition in that file.
### file everything.ev
import { port } from "lib/net.ev"
let url = "http://example.test:${port}"
### file lib/net.ev
# Network constants.

export let port = 8080
### definition everything.ev 1:26
### definition everything.ev 1:11
### definition everything.ev 2:36
