"""Every differentiable op of the library, one kind per file; each op is a `Function` subclass
with its forward and hand-written backward side by side.

elementwise  Add Sub Mul Div Pow Neg Exp Log Sqrt Abs Tanh Sigmoid Relu Clamp Cast ToDevice
reduce       Sum Max LogSoftmax Softmax
movement     Reshape Permute Expand GetItem
matmul       MatMul
conv         Conv2d MaxPool2d AvgPool2d (and the im2col / col2im helpers)
norm         BatchNorm LayerNorm (fused, with the derivation of their backward)
sync_norm    SyncBatchNorm (batch norm over a batch split across processes; its derivation)

utils.py holds the helpers they share: `unbroadcast` and `normalize_dims`.
"""
