# A stand-in nixpkgs for the local sandbox (./scripts/sandbox.sh), which has
# no network to fetch the real one. Its "NixOS" builds a system that is one
# file: the machine ev describes, and each module's file name and hash (a
# module's content is not evaluated). Editing a module changes the system,
# so ev rebuilds and re-activates it, with real Nix.
{
  outputs = { self }: {
    lib.nixosSystem = { system, specialArgs ? { }, modules }:
      let
        describe = m:
          if builtins.isPath m then "module ${baseNameOf m} ${builtins.hashFile "sha256" m}"
          else "module (inline or from an input)";
      in {
        config.system.build.toplevel = builtins.derivation {
          name = "nixos-system-${specialArgs.ev.machine.name}";
          inherit system;
          builder = "/bin/sh";
          PATH = "/usr/bin:/bin";
          text = builtins.concatStringsSep "\n" (
            [ "stand-in NixOS system (venus/sandbox/nixpkgs)" (builtins.toJSON specialArgs.ev.machine) ]
            ++ map describe modules
          );
          args = [ "-c" "echo \"$text\" > $out" ];
        };
      };
  };
}
