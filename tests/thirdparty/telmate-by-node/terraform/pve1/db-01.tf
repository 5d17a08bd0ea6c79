resource "proxmox_vm_qemu" "qemu_103_db_01" {
  vmid        = 103
  name        = "db-01"
  description = ""
  target_node = var.node
  tags        = "db;production"
  pool        = "prod"
  onboot      = false
  vm_state    = "running"
  agent       = 0
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  memory      = 16384

  cpu {
    cores   = 4
    sockets = 2
  }

  disks {
    scsi {
      scsi0 {
        disk {
          storage  = "ceph-vm"
          size     = "64G"
          iothread = true
        }
      }
      scsi1 {
        disk {
          storage  = "ceph-vm"
          size     = "200G"
          iothread = true
        }
      }
    }
  }

  network {
    id       = 0
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:03:01"
    firewall = true
  }
}
