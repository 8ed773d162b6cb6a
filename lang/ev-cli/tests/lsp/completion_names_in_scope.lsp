# In an expression: locals, bindings, imports and builtins by prefix.
### file everything.ev
import { port_base } from "lib.ev"
let port_offset = 10
let ports = [port_offset + i for i in range(3)]
let f = fn(port_name) => por
### file lib.ev
export let port_base = 8000
### completion everything.ev 4:29
