# A file with syntax errors is not formatted; the error says why.
### file everything.ev
let a = (1 +
### format everything.ev
