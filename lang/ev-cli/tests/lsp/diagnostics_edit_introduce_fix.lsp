# An edit introduces an error (published for the new version); the next
# edit fixes it and the diagnostics are cleared.
### file everything.ev
let port = 8080
let url = "http://example.test:${port}"
### open everything.ev
### diagnostics
### change everything.ev 2:34-2:38
prot
### diagnostics
### change everything.ev 2:34-2:38
port
### diagnostics
