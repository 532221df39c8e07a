"""Reading PyTorch models into networks: the pipeline behind :mod:`verify.check.torch_models`.

* :mod:`.tracing`: ``forward`` as a ``torch.fx`` graph, custom ``autograd.Function``\\ s kept whole;
* :mod:`.graph`: the graph split into layers, each an affine map and an activation (or one line why not);
* :mod:`.vocabulary`: what the reader knows by name (activations' spellings and parameters, steps that change
  nothing, layers that are not an MLP's);
* :mod:`.layer_reading`: each layer recognised by its values: the affine map's weight, bias and layout, the activation;
* :mod:`.loss_names`: PyTorch's losses by name (``"MSELoss(reduction='sum')"``), read without torch;
* :mod:`.model_loss`: the loss a model is checked with, computed in torch as training computes it;
* :mod:`.reading`: the pipeline, trace -> layers -> :class:`derive.Network`, where the model lives, raw tensors;
* :mod:`.autograd`: the candidates, the model's autograd gradient and double-backward product;
* :mod:`.failures`: which failures of the user's code are reported as one line.

Only :mod:`.loss_names` and :mod:`.failures` can be imported without torch; importing this package imports neither.
"""
