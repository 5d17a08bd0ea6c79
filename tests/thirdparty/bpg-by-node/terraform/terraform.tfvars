endpoint = "https://pve2.homelab.lan:8006/"
