"""Every differentiable op of the library, one kind per file (see the package README).

elementwise  Add Sub Mul Div Pow Neg Exp Log Sqrt Abs Tanh Sigmoid Relu Clamp Cast ToDevice
reduce       Sum Max LogSoftmax Softmax
movement     Reshape Permute Expand GetItem
matmul       MatMul
"""
