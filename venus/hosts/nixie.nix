# Host-specific settings of nixie.
{ config, lib, pkgs, ... }:
{
  networking.hostName = "nixie";
}
