# one module call per guest; the modules are in ./modules

module "vm_tmpl_debian12" {
  source    = "./modules/vm"
  vm_id     = 100
  node      = "pve1"
  name      = "tmpl-debian12"
  tags      = ["template"]
  running   = false
  template  = true
  cores     = 2
  sockets   = 1
  memory_mb = 2048
  mac       = "BC:24:11:01:00:01"
  disks = [
    { interface = "scsi0", datastore = "local-lvm", size = 16 },
  ]
}

module "vm_web_01" {
  source    = "./modules/vm"
  vm_id     = 101
  node      = "pve1"
  name      = "web-01"
  tags      = ["production", "web"]
  pool      = "prod"
  cores     = 2
  sockets   = 1
  memory_mb = 4096
  mac       = "BC:24:11:01:01:01"
  disks = [
    { interface = "scsi0", datastore = "ceph-vm", size = 32 },
  ]
}

module "vm_web_02" {
  source    = "./modules/vm"
  vm_id     = 102
  node      = "pve2"
  name      = "web-02"
  tags      = ["production", "web"]
  pool      = "prod"
  cores     = 2
  sockets   = 1
  memory_mb = 4096
  mac       = "BC:24:11:01:02:01"
  disks = [
    { interface = "scsi0", datastore = "ceph-vm", size = 32 },
  ]
}

module "vm_db_01" {
  source    = "./modules/vm"
  vm_id     = 103
  node      = "pve1"
  name      = "db-01"
  tags      = ["db", "production"]
  pool      = "prod"
  cores     = 4
  sockets   = 2
  memory_mb = 16384
  mac       = "BC:24:11:01:03:01"
  disks = [
    { interface = "scsi0", datastore = "ceph-vm", size = 64 },
    { interface = "scsi1", datastore = "ceph-vm", size = 200 },
  ]
}

module "vm_monitoring" {
  source    = "./modules/vm"
  vm_id     = 104
  node      = "pve2"
  name      = "monitoring"
  tags      = ["ops"]
  cores     = 2
  sockets   = 1
  memory_mb = 8192
  mac       = "BC:24:11:01:04:01"
  disks = [
    { interface = "scsi0", datastore = "local-lvm", size = 100 },
  ]
}

module "vm_dev_sandbox" {
  source    = "./modules/vm"
  vm_id     = 105
  node      = "pve3"
  name      = "dev-sandbox"
  tags      = ["dev"]
  pool      = "lab"
  running   = false
  cores     = 1
  sockets   = 1
  memory_mb = 1024
  mac       = "BC:24:11:01:05:01"
  disks = [
    { interface = "scsi0", datastore = "local-lvm", size = 20 },
  ]
}

module "vm_win_build" {
  source    = "./modules/vm"
  vm_id     = 106
  node      = "pve3"
  name      = "win-build"
  tags      = ["ci"]
  running   = false
  cores     = 4
  sockets   = 1
  memory_mb = 8192
  mac       = "BC:24:11:01:06:01"
  os_type   = "win11"
  disks = [
    { interface = "scsi0", datastore = "nas-nfs", size = 80 },
    { interface = "scsi1", datastore = "nas-nfs", size = 40 },
  ]
}

module "vm_gitlab_runner" {
  source    = "./modules/vm"
  vm_id     = 107
  node      = "pve2"
  name      = "gitlab-runner"
  tags      = ["ci"]
  cores     = 4
  sockets   = 1
  memory_mb = 8192
  mac       = "BC:24:11:01:07:01"
  disks = [
    { interface = "scsi0", datastore = "local-lvm", size = 50 },
  ]
}
