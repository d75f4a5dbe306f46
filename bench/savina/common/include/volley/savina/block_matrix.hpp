#pragma once
/// The work of the matrix-multiplication workload, shared by volley and CAF
/// (the Erlang twin, savina_matrix_multiplication.erl, writes the same loops).
///
/// C = A × B for two D×D integer matrices with A[i][k] = i and B[k][j] = j
/// (Savina's MatMul inputs), so C[i][j] = D·i·j exactly. A `matrix_block`
/// names one block product C[c..][c..] += A[a..][a..] × B[b..][b..] of side
/// `size`; split_block() gives the eight half-size products of the 2×2
/// block scheme, multiply_block() computes one product block, and the
/// master adds it into C with add_block_product().

#include <array>
#include <cstdint>
#include <vector>

namespace volley::savina {

struct matrix_block {
  std::int64_t a_row, a_col, b_row, b_col, c_row, c_col;
  std::int64_t size;  ///< side length; the block has size × size elements
};

/// The two input matrices, row-major: a[i·D + k] = i, b[k·D + j] = j.
struct square_matrices {
  explicit square_matrices(std::int64_t dimension);
  std::int64_t dimension;
  std::vector<std::int64_t> a, b;
};

/// The eight products of half the side that make up `block` (size even).
std::array<matrix_block, 8> split_block(const matrix_block& block);

/// Whether a D×D product splits into halves exactly: every block of more
/// than `threshold` elements, the whole product first, has an even side.
/// True for a power of two, and for a multiple of one that is small enough
/// by the time its halves turn odd: 1,536 at 16,384 splits to 768, 384 and
/// 192, and multiplies blocks of 96 (9,216 elements).
bool halves_evenly(std::int64_t dimension, std::int64_t threshold);

/// A[block rows] × B[block columns], size × size, row-major. The B block is
/// transposed first, then each element is one dot product of a row of A and
/// a column of B, k ascending: the loop every runtime runs.
std::vector<std::int64_t> multiply_block(const square_matrices& inputs, const matrix_block& block);

/// Adds a product block (from multiply_block) into C (D×D, row-major).
void add_block_product(std::vector<std::int64_t>& c, std::int64_t dimension,
                       const matrix_block& block, const std::vector<std::int64_t>& values);

/// How many elements of C differ from D·i·j (0 for a correct product).
std::int64_t wrong_product_elements(const std::vector<std::int64_t>& c, std::int64_t dimension);

}  // namespace volley::savina
