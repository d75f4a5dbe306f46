#include <volley/savina/block_matrix.hpp>

#include <cstddef>

namespace volley::savina {

square_matrices::square_matrices(std::int64_t d)
    : dimension(d), a(static_cast<std::size_t>(d * d)), b(static_cast<std::size_t>(d * d)) {
  for (std::int64_t i = 0; i < d; ++i)
    for (std::int64_t j = 0; j < d; ++j) {
      a[static_cast<std::size_t>(i * d + j)] = i;
      b[static_cast<std::size_t>(i * d + j)] = j;
    }
}

std::array<matrix_block, 8> split_block(const matrix_block& m) {
  const auto h = m.size / 2;
  // C11 += A11·B11 + A12·B21, C12 += A11·B12 + A12·B22,
  // C21 += A21·B11 + A22·B21, C22 += A21·B12 + A22·B22.
  return {{
      {m.a_row, m.a_col, m.b_row, m.b_col, m.c_row, m.c_col, h},
      {m.a_row, m.a_col + h, m.b_row + h, m.b_col, m.c_row, m.c_col, h},
      {m.a_row, m.a_col, m.b_row, m.b_col + h, m.c_row, m.c_col + h, h},
      {m.a_row, m.a_col + h, m.b_row + h, m.b_col + h, m.c_row, m.c_col + h, h},
      {m.a_row + h, m.a_col, m.b_row, m.b_col, m.c_row + h, m.c_col, h},
      {m.a_row + h, m.a_col + h, m.b_row + h, m.b_col, m.c_row + h, m.c_col, h},
      {m.a_row + h, m.a_col, m.b_row, m.b_col + h, m.c_row + h, m.c_col + h, h},
      {m.a_row + h, m.a_col + h, m.b_row + h, m.b_col + h, m.c_row + h, m.c_col + h, h},
  }};
}

bool halves_evenly(std::int64_t dimension, std::int64_t threshold) {
  for (auto side = dimension; side * side > threshold; side /= 2) {
    if (side % 2 != 0) return false;
  }
  return true;
}

std::vector<std::int64_t> multiply_block(const square_matrices& in, const matrix_block& m) {
  const auto d = in.dimension, n = m.size;
  const auto at = [](std::int64_t i) { return static_cast<std::size_t>(i); };
  std::vector<std::int64_t> b_columns(at(n * n));  // b_columns[j·n + k] = B[b_row + k][b_col + j]
  for (std::int64_t k = 0; k < n; ++k)
    for (std::int64_t j = 0; j < n; ++j)
      b_columns[at(j * n + k)] = in.b[at((m.b_row + k) * d + m.b_col + j)];
  std::vector<std::int64_t> product(at(n * n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto* a_row = &in.a[at((m.a_row + i) * d + m.a_col)];
    for (std::int64_t j = 0; j < n; ++j) {
      const auto* b_column = &b_columns[at(j * n)];
      std::int64_t sum = 0;
      for (std::int64_t k = 0; k < n; ++k) sum += a_row[k] * b_column[k];
      product[at(i * n + j)] = sum;
    }
  }
  return product;
}

void add_block_product(std::vector<std::int64_t>& c, std::int64_t d, const matrix_block& m,
                       const std::vector<std::int64_t>& values) {
  for (std::int64_t i = 0; i < m.size; ++i)
    for (std::int64_t j = 0; j < m.size; ++j)
      c[static_cast<std::size_t>((m.c_row + i) * d + m.c_col + j)] +=
          values[static_cast<std::size_t>(i * m.size + j)];
}

std::int64_t wrong_product_elements(const std::vector<std::int64_t>& c, std::int64_t d) {
  if (c.size() != static_cast<std::size_t>(d * d)) return d * d;
  std::int64_t wrong = 0;
  for (std::int64_t i = 0; i < d; ++i)
    for (std::int64_t j = 0; j < d; ++j)
      wrong += c[static_cast<std::size_t>(i * d + j)] != d * i * j;
  return wrong;
}

}  // namespace volley::savina
