"""pyserial URL handlers of the provisioning tool, found through pyserial's documented
`serial.protocol_handler_packages` once provisioning.serialopen.use_for_urls() added this package."""
