# A `##` documented binding shows its documentation and value, from a use
# in another file.
### file everything.ev
import { default_ttl } from "magic.ev"
let ttl = default_ttl * 2
### file magic.ev
## Seconds DNS resolvers may cache a record.
export let default_ttl = 300
### hover everything.ev 2:12
