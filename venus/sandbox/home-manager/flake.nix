# Stands in for the home-manager flake in the local sandbox (./scripts/sandbox.sh):
# the modules a machine imports from it, empty. Its nixpkgs input is never
# fetched: machines make it follow theirs (venus/sandbox/nixpkgs).
{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  outputs = { self, nixpkgs }: {
    nixosModules.home-manager = { };
  };
}
