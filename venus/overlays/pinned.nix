# Packages pinned on the servers: an overlay, applied before modules read pkgs.
final: prev: {
  # The k3s the milky-way cluster was last upgraded to.
  k3s = prev.k3s_1_30 or prev.k3s;
}
