# A secret's value is never shown: hover says (secret).
### file everything.ev
let token = secret("secrets/app.yaml", "hcloud.token")
let env = { TOKEN = token }
### file secrets/app.yaml
hcloud:
    token: ENC[AES256_GCM,data:S2krd9iaqLbvyAwiUeTIXSq05EeOZzJhqcRS+Z2p1A==,iv:oI4nduj94fBAExTXVdbGzTY5CvtiK7V9BTBGcqUCOMc=,tag:8I/400ipx6kMJRO3xk8fMg==,type:str]
sops:
    age:
        - recipient: age1qfze7c3hzku72m0s6ugkzzf858lx7waa2crnhvv92lhq9d4m935sx9emu8
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
            YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBhcDdEWlNmWGxVd2NxeVU3
            UFI2TVJLUkxuRjdyc3BGVlFEU1pNQ3RYaUdJCkIyUzFXbmk4SUQ4YWo1b0ZwV1dG
            dno3WDk3TWdvVGdFL0xFNlRrVVowYlkKLS0tIEt1c1I1TDhvQWFENzVkeE00bHdh
            UkxZN054eWY1SEMrdnJZcmdWdHZwYmMKuDBQF2TvRHUh3LYWesEN1/t6Ew0++F56
            6tYqi9ReZm3zsoqThY8IvFHoVatDgv9QTVxXIIGYR1vtM9y9pHzz8A==
            -----END AGE ENCRYPTED FILE-----
    lastmodified: "2026-11-28T22:36:12Z"
    mac: ENC[AES256_GCM,data:mP50ARJbpf1Y/00v27m5r22tPA8wJjBJjE5lXsm7LQUgnjDpNP85jgETXDgwNGlhnnhVSlDjQuPRz6qAHYNlPtS6456aW1Y7RveUdDRrTU5ln3Gsuu0IqXl2Wn2yDaSwGQKjlXjZ2vjMGGnT/ixTfKJYEeHLNIJDKwxNagHHxcs=,iv:iSoGkdn7lQubdNJggJQw652jAXoS7XFNSWDp46o8PJs=,tag:6PGNPecdjEihyJbOfw0Jow==,type:str]
    unencrypted_suffix: _unencrypted
    version: 3.11.0
### hover everything.ev 2:22
### hover everything.ev 1:6
