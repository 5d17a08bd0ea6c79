module "ct_dns_01" {
  source    = "./modules/container"
  vm_id     = 200
  node      = "pve1"
  hostname  = "dns-01"
  tags      = ["infra", "production"]
  pool      = "prod"
  cores     = 1
  memory_mb = 512
  rootfs_gb = 8
  mac       = "BC:24:11:02:00:02"
}

module "ct_proxy" {
  source    = "./modules/container"
  vm_id     = 201
  node      = "pve2"
  hostname  = "proxy"
  tags      = ["infra"]
  cores     = 2
  memory_mb = 1024
  rootfs_gb = 8
  mac       = "BC:24:11:02:01:02"
}

module "ct_backup_agent" {
  source    = "./modules/container"
  vm_id     = 202
  node      = "pve3"
  hostname  = "backup-agent"
  tags      = ["ops"]
  running   = false
  cores     = 1
  memory_mb = 512
  rootfs_gb = 4
  mac       = "BC:24:11:02:02:02"
}

module "ct_tmpl_debian12_ct" {
  source    = "./modules/container"
  vm_id     = 203
  node      = "pve3"
  hostname  = "tmpl-debian12-ct"
  tags      = ["template"]
  running   = false
  template  = true
  cores     = 1
  memory_mb = 512
  rootfs_gb = 4
  mac       = "BC:24:11:02:03:02"
}
