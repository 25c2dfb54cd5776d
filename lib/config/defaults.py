"""Every config key with its default value: the one schema that experiment YAMLs override.

Key names follow the original TBSI/IIMF config so that researchers' YAML files load unchanged.
Keys the original accepts but never reads are listed in INERT_KEYS: they load, with a warning.
"""

DEFAULTS = {
    "MODEL": {
        "PRETRAIN_FILE": "",          # file under pretrained_models/ used by build_iimf(training=True)
        "EXTRA_MERGER": False,
        "RETURN_INTER": False,
        "RETURN_STAGES": [2, 5, 8, 11],
        "BACKBONE": {
            "TYPE": "vit_base_patch16_224_tbsi",
            "STRIDE": 16,             # patch size of the ViT
            "EMBED_DIM": 768,
            "DEPTH": 12,
            "NUM_HEADS": 12,
            "MLP_RATIO": 4.0,
            "TBSI_LOC": [],           # ViT blocks after which a TBSI interaction layer runs
            "SPSH_LOC": 1,            # ViT block after which the SpSh layer creates the shared stream
            "MID_PE": False,
            "SEP_SEG": False,
            "CAT_MODE": "direct",
            "MERGE_LAYER": 0,
            "ADD_CLS_TOKEN": False,
            "CLS_TOKEN_USE_MODE": "ignore",
            "CE_LOC": [],
            "CE_KEEP_RATIO": [],
            "CE_TEMPLATE_RANGE": "ALL",
            "RGB_ONLY": False,
            "RGBT_UNSHARE": False,
        },
        "HEAD": {
            "TYPE": "CENTER",
            "NUM_CHANNELS": 256,
        },
    },
    "TRAIN": {
        "LR": 0.0001,
        "WEIGHT_DECAY": 0.0001,
        "EPOCH": 500,
        "LR_DROP_EPOCH": 400,
        "BATCH_SIZE": 16,
        "NUM_WORKER": 8,
        "OPTIMIZER": "ADAMW",
        "BACKBONE_MULTIPLIER": 0.1,
        "GIOU_WEIGHT": 2.0,
        "L1_WEIGHT": 5.0,
        "F2_WEIGHT": 3.0,
        "FREEZE_LAYERS": [0],
        "PRINT_INTERVAL": 50,
        "VAL_EPOCH_INTERVAL": 20,
        "GRAD_CLIP_NORM": 0.1,
        "AMP": False,
        "CE_START_EPOCH": 20,
        "CE_WARM_EPOCH": 80,
        "DROP_PATH_RATE": 0.1,        # stochastic depth of the ViT blocks (linearly increasing)
        "TBSI_DROP_RATE": 0.0,
        "TBSI_DROP_PATH": [],         # entry 0: SpSh layer; entry j: TBSI layer j
        "SOT_PRETRAIN": False,        # True: the whole model starts from an SOT-pretrained checkpoint
        "SAVE_INTERVAL": 1,           # write a checkpoint every N epochs (and always after the last)
        # Fixes of the original's training bugs (docs/training.md#off-by-default-fixes). Off = original behaviour.
        "FIX_LR_GROUPS": False,       # new layers at the full LR (SOT: SpSh and head; in1k: SpSh and TBSI)
        "FIX_GRAD_CLIP_AMP": False,   # clip gradients (GRAD_CLIP_NORM) under AMP too
        "USE_ABSENCE_LABELS": False,  # treat frames flagged in absence.label as invisible when sampling
        "FIX_ZERO_SIZE_FRAMES": False,  # draw only frames whose GT box has w > 0 and h > 0
        "SCHEDULER": {
            "TYPE": "step",
            "DECAY_RATE": 0.1,
        },
    },
    "DATA": {
        "SAMPLER_MODE": "causal",
        "MEAN": [0.485, 0.456, 0.406, 0.449, 0.449, 0.449],
        "STD": [0.229, 0.224, 0.225, 0.226, 0.226, 0.226],
        "MAX_SAMPLE_INTERVAL": 200,
        "TRAIN": {
            "DATASETS_NAME": ["LasHeR_train"],
            "DATASETS_RATIO": [1],
            "SAMPLE_PER_EPOCH": 60000,
        },
        "VAL": {
            "DATASETS_NAME": ["LasHeR_test"],
            "DATASETS_RATIO": [1],
            "SAMPLE_PER_EPOCH": 10000,
        },
        "SEARCH": {
            "SIZE": 256,
            "FACTOR": 4.0,
            "CENTER_JITTER": 3,
            "SCALE_JITTER": 0.25,
            "NUMBER": 1,
        },
        "TEMPLATE": {
            "NUMBER": 1,
            "SIZE": 128,
            "FACTOR": 2.0,
            "CENTER_JITTER": 0,
            "SCALE_JITTER": 0,
        },
    },
    "TEST": {
        "TEMPLATE_FACTOR": 2.0,
        "TEMPLATE_SIZE": 128,
        "SEARCH_FACTOR": 4.0,
        "SEARCH_SIZE": 256,
        "EPOCH": 500,
    },
}

# Accepted for compatibility with the original configs, but the original never reads them
# (or, for GRAD_CLIP_NORM, skips it under AMP), so they change nothing here either.
INERT_KEYS = {
    "MODEL.EXTRA_MERGER": "the original never reads it",
    "MODEL.RETURN_INTER": "the original never reads it",
    "MODEL.RETURN_STAGES": "the original never reads it",
    "MODEL.BACKBONE.MID_PE": "the original never reads it",
    "MODEL.BACKBONE.SEP_SEG": "segment embeddings are off in IIMF",
    "MODEL.BACKBONE.CAT_MODE": "tokens are always concatenated directly",
    "MODEL.BACKBONE.MERGE_LAYER": "the original never reads it",
    "MODEL.BACKBONE.ADD_CLS_TOKEN": "IIMF has no cls token",
    "MODEL.BACKBONE.CLS_TOKEN_USE_MODE": "IIMF has no cls token",
    "MODEL.BACKBONE.CE_LOC": "candidate elimination is not part of IIMF",
    "MODEL.BACKBONE.CE_KEEP_RATIO": "candidate elimination is not part of IIMF",
    "MODEL.BACKBONE.CE_TEMPLATE_RANGE": "candidate elimination is not part of IIMF",
    "MODEL.BACKBONE.RGB_ONLY": "the original never reads it",
    "MODEL.BACKBONE.RGBT_UNSHARE": "the original never reads it",
    "TRAIN.F2_WEIGHT": "the original's f2 loss call is commented out",
    "TRAIN.FREEZE_LAYERS": "the original never reads it",
    "TRAIN.TBSI_DROP_RATE": "the original never reads it",
    "TRAIN.CE_START_EPOCH": "candidate elimination is not part of IIMF",
    "TRAIN.CE_WARM_EPOCH": "candidate elimination is not part of IIMF",
    "TRAIN.SCHEDULER.DECAY_RATE": "the original's StepLR always uses gamma 0.1",
    "TRAIN.VAL_EPOCH_INTERVAL": "training runs no validation loop",
    "DATA.VAL.DATASETS_NAME": "training runs no validation loop",
    "DATA.VAL.DATASETS_RATIO": "training runs no validation loop",
    "DATA.VAL.SAMPLE_PER_EPOCH": "training runs no validation loop",
}
