"""What an exported or calibrated file was made from: a fingerprint of the config settings that shape
the network and its inputs, so that a file made with other settings can be refused."""
import hashlib
import json


def config_fingerprint(cfg):
    """sha256 of the config's MODEL, DATA.TEMPLATE/SEARCH and TEST settings (what shapes the network)."""
    tree = {"MODEL": cfg.MODEL.to_dict(), "TEMPLATE": cfg.DATA.TEMPLATE.to_dict(),
            "SEARCH": cfg.DATA.SEARCH.to_dict(), "TEST": cfg.TEST.to_dict()}
    return hashlib.sha256(json.dumps(tree, sort_keys=True, default=str).encode()).hexdigest()
