# Hover positions after non-ASCII text on the same line (columns are
# UTF-16 code units on the wire: é is one, 😀 two).
### file everything.ev
let naive = 1
let dessert = { name = "crème brûlée 😀", count = naive }
### hover everything.ev 2:52
