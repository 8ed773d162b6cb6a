# Diagnostics are cached per file and recomputed when anything a file's
# values reach changes: an unsaved edit of a binding in another file
# breaks a resource here, and fixing it clears the error.
### file everything.ev
import { replicas } from "lib.ev"
app web {
  cluster = "k3s"
  image = "registry.test/web@sha256:0000000000000000000000000000000000000000000000000000000000000001"
  replicas = replicas
}
cluster k3s {
}
### file lib.ev
export let replicas = 2
### open everything.ev
### open lib.ev
### diagnostics
### change lib.ev 1:23-1:24
"two"
### diagnostics
### change lib.ev 1:23-1:28
3
### diagnostics
