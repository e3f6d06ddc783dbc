#include "quantizers/granularity.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace ternary {

using RowsCols = std::pair<int64_t, int64_t>;

TEST(Granularity, RowsAndColsPerKind) {
  EXPECT_EQ(Granularity::tensor().rows_and_cols({64, 32}), RowsCols(1, 2048));
  EXPECT_EQ(Granularity::channel().rows_and_cols({64, 32}), RowsCols(64, 32));
  EXPECT_EQ(Granularity::channel().rows_and_cols({8, 4, 3, 3}), RowsCols(8, 36));
  EXPECT_EQ(Granularity::group(16).rows_and_cols({64, 32}), RowsCols(128, 16));
  EXPECT_EQ(Granularity::token().rows_and_cols({2, 5, 32}), RowsCols(10, 32));
}

TEST(Granularity, GroupMustDivideEachChannel) {
  try {
    Granularity::group(128).rows_and_cols({4, 200});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("group size 128 does not divide the 200"), std::string::npos) << e.what();
  }
}

TEST(Granularity, RejectsShapesItCannotView) {
  EXPECT_THROW(Granularity::channel().rows_and_cols({7}), std::invalid_argument);
  EXPECT_THROW(Granularity::tensor().rows_and_cols({0, 4}), std::invalid_argument);
  EXPECT_THROW(Granularity::token().rows_and_cols({}), std::invalid_argument);
  EXPECT_THROW(Granularity::group(0).rows_and_cols({4, 4}), std::invalid_argument);
}

}  // namespace ternary
