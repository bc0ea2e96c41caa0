"""astrofm's default CNN (widths 32-64-128-256) in PyTorch, for the benchmarks
that run the same network on the Python side."""
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, i, o, s):
        super().__init__()
        self.conv1 = nn.Conv2d(i, o, 3, s, 1, bias=False); self.bn1 = nn.BatchNorm2d(o)
        self.conv2 = nn.Conv2d(o, o, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(o)
        self.down = nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False), nn.BatchNorm2d(o))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.down(x))


class Cnn(nn.Module):
    def __init__(self, widths=(32, 64, 128, 256)):
        super().__init__()
        self.stem = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False); self.bn = nn.BatchNorm2d(widths[0])
        ins = (widths[0],) + tuple(widths[:-1])
        self.stages = nn.Sequential(*[Block(i, o, 2) for i, o in zip(ins, widths)])

    def forward(self, x):
        return self.stages(torch.relu(self.bn(self.stem(x)))).flatten(2).mean(2)
