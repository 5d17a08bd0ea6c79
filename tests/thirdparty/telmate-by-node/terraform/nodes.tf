# one module per node: every guest of a node lives in terraform/<node>/
module "pve1" {
  source = "./pve1"
  node   = "pve1"
}

module "pve2" {
  source = "./pve2"
  node   = "pve2"
}

module "pve3" {
  source = "./pve3"
  node   = "pve3"
}

output "managed_nodes" {
  value = ["pve1", "pve2", "pve3"]
}
