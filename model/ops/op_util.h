// Small helpers shared by the op implementations (not part of the public API).
#pragma once

#include "common/error.h"
#include "model/autograd.h"
#include "model/tensor.h"

#include <string>

namespace slimtune::ops_detail {

inline void require(bool ok, const std::string& msg) {
    if (!ok)
        throw ShapeError(msg);
}

inline void require_defined(const Tensor& t, const char* op, const char* what) {
    require(t.defined(), std::string(op) + ": " + what + " is undefined");
}

// "x [2, 3]" for messages.
inline std::string desc(const char* name, const Tensor& t) {
    return std::string(name) + " " + shape_str(t.shape());
}

// The shape of x with its last dimension replaced.
inline Shape with_last(const Shape& s, int64_t last) {
    Shape r = s;
    r.back() = last;
    return r;
}

} // namespace slimtune::ops_detail
