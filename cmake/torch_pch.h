// Precompiled LibTorch headers shared by the library, tests and bench (one parse, not hundreds).
#pragma once
#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/serialize.h>
