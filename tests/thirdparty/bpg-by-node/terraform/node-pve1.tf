# the guests of pve1

resource "proxmox_virtual_environment_vm" "tmpl_debian12" {
  name          = "tmpl-debian12"
  node_name     = local.node_a
  vm_id         = 100
  tags          = ["template"]
  started       = false
  on_boot       = false
  scsi_hardware = "virtio-scsi-single"
  boot_order    = ["scsi0", "net0"]
  template      = true

  cpu {
    cores   = 2
    sockets = 1
  }

  memory {
    dedicated = 2048
  }

  disk {
    interface    = "scsi0"
    datastore_id = "local-lvm"
    size         = 16
    iothread     = true
  }

  network_device {
    bridge      = local.bridge
    model       = "virtio"
    mac_address = "BC:24:11:01:00:01"
    firewall    = true
  }

  operating_system {
    type = "l26"
  }
}

resource "proxmox_virtual_environment_vm" "web_01" {
  name          = "web-01"
  node_name     = local.node_a
  vm_id         = 101
  tags          = ["production", "web"]
  started       = true
  on_boot       = false
  scsi_hardware = "virtio-scsi-single"
  boot_order    = ["scsi0", "net0"]
  pool_id       = "prod"

  cpu {
    cores   = 2
    sockets = 1
  }

  memory {
    dedicated = 4096
  }

  disk {
    interface    = "scsi0"
    datastore_id = "ceph-vm"
    size         = 32
    iothread     = true
  }

  network_device {
    bridge      = local.bridge
    model       = "virtio"
    mac_address = "BC:24:11:01:01:01"
    firewall    = true
  }

  operating_system {
    type = "l26"
  }
}

resource "proxmox_virtual_environment_vm" "db_01" {
  name          = "db-01"
  node_name     = local.node_a
  vm_id         = 103
  tags          = ["db", "production"]
  started       = true
  on_boot       = false
  scsi_hardware = "virtio-scsi-single"
  boot_order    = ["scsi0", "net0"]
  pool_id       = "prod"

  cpu {
    cores   = 4
    sockets = 2
  }

  memory {
    dedicated = 16384
  }

  disk {
    interface    = "scsi0"
    datastore_id = "ceph-vm"
    size         = 64
    iothread     = true
  }

  disk {
    interface    = "scsi1"
    datastore_id = "ceph-vm"
    size         = 200
    iothread     = true
  }

  network_device {
    bridge      = local.bridge
    model       = "virtio"
    mac_address = "BC:24:11:01:03:01"
    firewall    = true
  }

  operating_system {
    type = "l26"
  }
}

resource "proxmox_virtual_environment_container" "dns_01" {
  node_name     = local.node_a
  vm_id         = 200
  tags          = ["infra", "production"]
  started       = true
  start_on_boot = false
  unprivileged  = true
  pool_id       = "prod"

  cpu {
    cores = 1
  }

  memory {
    dedicated = 512
    swap      = 512
  }

  disk {
    datastore_id = "local-lvm"
    size         = 8
  }

  initialization {
    hostname = "dns-01"
    ip_config {
      ipv4 {
        address = "dhcp"
      }
    }
  }

  network_interface {
    name        = "eth0"
    bridge      = local.bridge
    mac_address = "BC:24:11:02:00:02"
  }

  operating_system {
    template_file_id = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
    type             = "debian"
  }

  # PVE keeps no record of the template a container was made from
  lifecycle {
    ignore_changes = [operating_system]
  }
}
