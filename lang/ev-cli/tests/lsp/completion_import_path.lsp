# Inside an import path: the repository's .ev files.
### file everything.ev
import "ho"
### file hosts/web.ev
let a = 1
### file hosts/db.ev
let b = 2
### file other.ev
let c = 3
### completion everything.ev 1:11
