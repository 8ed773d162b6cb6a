# References of a binding across files, through an import.
### file everything.ev
import { port } from "lib.ev"
let url = "http://example.test:${port}"
let next = port + 1
### file lib.ev
export let port = 8080
let other = port
### references lib.ev 1:13
