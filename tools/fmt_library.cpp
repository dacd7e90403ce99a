// fmt's compiled functions, for a static memsim: Debian ships fmt's library only as a shared
// object. format-inl.h defines the functions that fmt's headers declare but do not define
// (unless FMT_HEADER_ONLY, which costs every file that formats twice its compile time); these
// instantiate the templates among them that memsim's code calls.
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {
template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
}  // namespace detail
FMT_END_NAMESPACE
