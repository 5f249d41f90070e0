"""What a person sees: the cash console's pages, the Friday digest, the prep tray, the test drive and the advisor
portfolio. Mirror data reaches them through ``domains.qbo.data_service.QBODataService``; runway figures through
``runway.core``."""
