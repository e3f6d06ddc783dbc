#include "quantizers/levels.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace ternary {

TEST(Levels, CodeRanges) {
  EXPECT_EQ(Levels::ternary().min_code(), -1);
  EXPECT_EQ(Levels::ternary().max_code(), 1);
  EXPECT_EQ(Levels::binary().min_code(), -1);
  EXPECT_EQ(Levels::signed_int(8).min_code(), -128);
  EXPECT_EQ(Levels::signed_int(8).max_code(), 127);
  EXPECT_EQ(Levels::signed_int(8, true).min_code(), -127);
  EXPECT_EQ(Levels::signed_int(4).min_code(), -8);
  EXPECT_EQ(Levels::signed_int(4).max_code(), 7);
  EXPECT_EQ(Levels::unsigned_int(8).min_code(), 0);
  EXPECT_EQ(Levels::unsigned_int(8).max_code(), 255);
  EXPECT_EQ(Levels::signed_int(4).positive_levels(), 7);
}

TEST(Levels, DescribeNamesBitsAndRange) {
  EXPECT_EQ(Levels::ternary().describe(), "ternary");
  EXPECT_EQ(Levels::signed_int(8).describe(), "int8");
  EXPECT_EQ(Levels::signed_int(4, true).describe(), "int4_narrow");
  EXPECT_EQ(Levels::unsigned_int(8).describe(), "uint8");
}

TEST(Levels, RejectsImpossibleBitWidths) {
  EXPECT_THROW(Levels::signed_int(1).validate(), std::invalid_argument);
  EXPECT_THROW(Levels::signed_int(17).validate(), std::invalid_argument);
  EXPECT_THROW(Levels::unsigned_int(0).validate(), std::invalid_argument);
  EXPECT_THROW((Levels{LevelKind::kTernary, 3, true}).validate(), std::invalid_argument);
  EXPECT_NO_THROW(Levels::signed_int(2).validate());
}

}  // namespace ternary
