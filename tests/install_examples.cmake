# ctest script: installs the built project into a scratch prefix, then configures and builds
# examples/ against it with find_package(TernaryEngine), and runs the example, as a user would.
file(REMOVE_RECURSE "${TEST_DIR}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${TEST_DIR}/prefix"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
set(launcher "")
find_program(CCACHE ccache)
if(CCACHE)
  set(launcher "-DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples" -B "${TEST_DIR}/build" -G Ninja
                        -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${TEST_DIR}/prefix" ${launcher}
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring examples/ against the installed package failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build "${TEST_DIR}/build" -j 2 RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building examples/ against the installed package failed (${rc})")
endif()
execute_process(COMMAND "${TEST_DIR}/build/quantize_model" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "examples/quantize_model failed (${rc})")
endif()
