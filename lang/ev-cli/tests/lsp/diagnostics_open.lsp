# Opening a file publishes its resolve and evaluation errors, with codes,
# documentation links and related locations.
### file everything.ev
import { helper } from "lib.ev"
let port = 8080
let url = "http://${hots}:${port}"
let dup = 1
let dup = 2
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
  colour = "blue"
}
### file lib.ev
export let helper = 1
### open everything.ev
### diagnostics
