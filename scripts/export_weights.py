"""Write a run's model weights (EMA if kept) alone, as fp16 safetensors, with the run's config.

python scripts/export_weights.py RUN_DIR OUT.safetensors
"""

from __future__ import annotations

import json
import sys

from safetensors.torch import save_file

from fundiff.tasks import load_trained_model

run_dir, out = sys.argv[1], sys.argv[2]
config, model = load_trained_model(f"{run_dir}/checkpoint.safetensors", "cpu")
weights = {
    k: (v.half() if v.is_floating_point() else v).contiguous()
    for k, v in model.state_dict().items()
}
save_file(weights, out, metadata={"config": json.dumps(config.to_dict())})
print(out, sum(v.numel() for v in weights.values()), "values")
