# Renaming a binding edits its definition, the import and every use; a
# use through an alias keeps the alias.
### file everything.ev
import { port } from "lib.ev"
import { port as p } from "lib.ev"
let url = "http://example.test:${port}"
let next = p + 1
### file lib.ev
export let port = 8080
let other = port
### prepare-rename everything.ev 3:36
### rename everything.ev 3:36 http_port
