#pragma once
/// A value that plans copy and compare often but rarely change (a GPU's profile, with its
/// names and sources): held once and shared by its copies, so that copies compare equal by
/// address before their values are compared. A value semantics all the same: changing
/// one copy (edit) leaves the others as they were.

#include <memory>
#include <utility>

namespace memsim::sim {

template <typename T>
class SharedValue {
 public:
  SharedValue() : value_(std::make_shared<const T>()) {}
  SharedValue(T value)  // NOLINT(google-explicit-constructor): stands for a T
      : value_(std::make_shared<const T>(std::move(value))) {}

  const T& operator*() const { return *value_; }
  const T* operator->() const { return value_.get(); }

  /// The value to change, this copy's own from now on.
  T& edit() {
    auto own = std::make_shared<T>(*value_);
    T& value = *own;
    value_ = std::move(own);
    return value;
  }

  bool operator==(const SharedValue& other) const {
    return value_ == other.value_ || *value_ == *other.value_;
  }

 private:
  std::shared_ptr<const T> value_;
};

}  // namespace memsim::sim
