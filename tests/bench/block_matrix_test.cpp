#include <volley/savina/block_matrix.hpp>

#include <catch2/catch.hpp>

using namespace volley::savina;

namespace {

// C = A × B by splitting down to `leaf` and adding every product block.
std::vector<std::int64_t> multiply_by_blocks(const square_matrices& in, std::int64_t leaf) {
  std::vector<std::int64_t> c(static_cast<std::size_t>(in.dimension * in.dimension), 0);
  std::vector<matrix_block> open = {{0, 0, 0, 0, 0, 0, in.dimension}};
  while (!open.empty()) {
    auto block = open.back();
    open.pop_back();
    if (block.size > leaf) {
      for (const auto& half : split_block(block)) open.push_back(half);
      continue;
    }
    add_block_product(c, in.dimension, block, multiply_block(in, block));
  }
  return c;
}

}  // namespace

TEST_CASE("the inputs are A[i][k] = i and B[k][j] = j") {
  square_matrices in(4);
  CHECK(in.a[2 * 4 + 3] == 2);
  CHECK(in.b[2 * 4 + 3] == 3);
}

TEST_CASE("the eight half-size products of every block make the whole product") {
  square_matrices in(16);
  for (std::int64_t leaf : {16, 8, 4, 1}) {
    INFO("leaf side " << leaf);
    CHECK(wrong_product_elements(multiply_by_blocks(in, leaf), 16) == 0);
  }
}

TEST_CASE("a dimension that halves evenly down to the leaves need not be a power of two") {
  // 12 splits to 6 and 3; blocks of 3 are multiplied.
  square_matrices in(12);
  CHECK(wrong_product_elements(multiply_by_blocks(in, 3), 12) == 0);
  CHECK(halves_evenly(12, 3 * 3));
  CHECK(halves_evenly(1'536, 16'384));  // 768, 384, 192, then 96 x 96 = 9,216 elements
  CHECK(halves_evenly(1'024, 16'384));
  CHECK(halves_evenly(5, 25));  // small enough to multiply whole
  // 12 at a threshold of 8 elements would split 3 into halves of 1.
  CHECK_FALSE(halves_evenly(12, 8));
  CHECK_FALSE(halves_evenly(1'100, 16'384));  // 550, then 275 is odd and 75,625 elements
}

TEST_CASE("a product block lost or added twice leaves elements wrong") {
  square_matrices in(8);
  auto c = multiply_by_blocks(in, 8);
  REQUIRE(wrong_product_elements(c, 8) == 0);
  auto quarter = split_block({0, 0, 0, 0, 0, 0, 8})[5];
  add_block_product(c, 8, quarter, multiply_block(in, quarter));
  CHECK(wrong_product_elements(c, 8) > 0);
  CHECK(wrong_product_elements({}, 8) == 64);
}

TEST_CASE("a product block is the block rows of A times the block columns of B") {
  square_matrices in(4);
  // C11-part A12 × B21 of side 2: rows 0-1 of A, columns 2-3; rows 2-3 of B, columns 0-1.
  auto p = multiply_block(in, {0, 2, 2, 0, 0, 0, 2});
  // Element (i, j) = sum over k of i * j = 2 * i * j.
  CHECK(p == std::vector<std::int64_t>{0, 0, 0, 2});
}
