# Install rules and the CMake package config, so users can
#   find_package(TernaryEngine REQUIRED)  +  target_link_libraries(app ternary::ternary)
include(CMakePackageConfigHelpers)

install(TARGETS ternary EXPORT TernaryEngineTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(dir common quantizers modules optim models train export kernels)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ternary/${dir}
          FILES_MATCHING PATTERN "*.h")
endforeach()

set(cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/TernaryEngine)
install(EXPORT TernaryEngineTargets NAMESPACE ternary:: DESTINATION ${cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/TernaryEngineConfig.cmake.in
  ${PROJECT_BINARY_DIR}/TernaryEngineConfig.cmake INSTALL_DESTINATION ${cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/TernaryEngineConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/TernaryEngineConfig.cmake
              ${PROJECT_BINARY_DIR}/TernaryEngineConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/TernaryTorch.cmake
        DESTINATION ${cmake_dir})
