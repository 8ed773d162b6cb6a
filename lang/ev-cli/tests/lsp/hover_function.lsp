# A function shows its parameters and defaults with its documentation.
### file everything.ev
## A Hetzner server resource for the stack.
let server = fn(name, server_type = "cx22", location = "nbg1") => {
  name = name,
  type = server_type,
}
let web = server("web", location = "fsn1")
### hover everything.ev 6:12
