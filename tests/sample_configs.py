"""Config texts that several test modules share."""

# a two-layer classifier on 90 spiral points that trains in well under a second
SPIRALS = """\
seed: 0
data: {name: spirals, options: {n_samples: 90}}
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 8, activation: relu}
    - {type: dense, units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: adam
metrics: [accuracy]
train: {epochs: 2, batch_size: 16}
"""

def xor_config(units: int = 4, epochs: int = 1) -> str:
    """xor on the whole set, a tanh layer of `units`: the smallest real run, for sweeps."""
    return f"""\
seed: 0
data: {{name: xor}}
model:
  input_shape: [2]
  layers:
    - {{type: dense, units: {units}, activation: tanh}}
    - {{type: dense, units: 2, activation: softmax}}
loss: sparse_categorical_crossentropy
optimizer: {{type: adam, lr: 0.05}}
metrics: [accuracy]
train: {{epochs: {epochs}, batch_size: full}}
"""


# one epoch of xor: for sweeps of a few trials
XOR = xor_config()
